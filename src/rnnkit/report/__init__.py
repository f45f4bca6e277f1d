"""Run reports: one self-contained HTML page per run (``run_report.py``), built from sections
(``sections.py``) that each task fills through its ``report_view`` hook."""
