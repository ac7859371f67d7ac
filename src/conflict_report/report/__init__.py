"""The report step (make report): generated Quarto sources, the render, and the checks of a rendered report."""
