"""The data step (make data): inputs, source adapters, schema, normalisation, boundaries and the validated event table."""
