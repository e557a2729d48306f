"""What every connector shares, each in its own small module:

- `retry`: the one retry policy (full-jitter backoff, `Retry-After`, a run-wide budget);
- `allowed_hosts` and `endpoint_overrides`: which hosts an endpoint override may name;
- `problems`: a validation's first problem as the ConfigError a run or test fails with;
- `record_batches`: rows of spreadsheet text as an Arrow batch;
- `spreadsheet_numbers`: a spreadsheet's number as the text its user sees.
"""
