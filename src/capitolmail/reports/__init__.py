"""Delivery reports: what happened to each copy of a job, for staff and for partners.

`model.py` gathers a job's messages, offices and engagement into a `Report`;
`summary.py` words the figures `status`, the status page and the report share;
`partners.py` decides what is safe to forward; `charts.py` draws; `csv_report.py`,
`html_report.py` and `pdf_report.py` write the three formats.
"""
