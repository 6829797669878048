"""Exports (seed 002's Export Service): a request is a row in ops.export_requests, the
export_request_sensor turns it into an export_file run, the run streams a file."""
