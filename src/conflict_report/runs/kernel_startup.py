"""Run by every kernel of the sweep before its notebook (an IPython startup file: see
sweep._papermill), so that what a notebook displays is fit for the report:

- a DataFrame displays as a Markdown table, not HTML: a notebook with any HTML table output
  makes Quarto load scripts from another host, and Markdown tables read well in both formats;
- inline figures are PNGs at print resolution (200 dpi), for the PDF.

A notebook run by hand in JupyterLab is untouched. Its results are the same either way: only
how outputs are displayed differs."""


def _prepare_displays() -> None:
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return

    def markdown_table(frame) -> str:
        import pandas as pd

        return frame.to_markdown(index=not isinstance(frame.index, pd.RangeIndex))

    formatters = shell.display_formatter.formatters
    # By name, so pandas is imported only by notebooks that use it; pandas 3 names the class's
    # module "pandas", earlier versions "pandas.core.frame".
    for module in ("pandas", "pandas.core.frame"):
        formatters["text/markdown"].for_type_by_name(module, "DataFrame", markdown_table)
        formatters["text/html"].for_type_by_name(module, "DataFrame", lambda frame: None)
    shell.config.InlineBackend.print_figure_kwargs = {"bbox_inches": "tight", "dpi": 200}


_prepare_displays()
del _prepare_displays
