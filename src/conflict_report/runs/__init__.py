"""The sweep (make notebooks): one papermill execution per run of report/runs.yml."""
