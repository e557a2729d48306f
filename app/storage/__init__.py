"""Where target files' bytes live: a local folder or an object store (S3, GCS, Azure Blob).

`objects.py` is the one interface the rest of the service sees (`ObjectStore`); `local.py`
and `remote.py` are its two backends; `location.py` turns `STORAGE_URL` into one of them.
Keys are `/`-separated paths relative to the store's root (a folder, or a bucket's
prefix); what the keys of a target file are is app/sync/csv_store.py's business.
"""
