"""What the notebooks call: views of the event table, figures, tables, claims, the results ledger, parameters."""
