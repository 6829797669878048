"""The fault suite (issue 13): hostile values and failing services, run by `make test`;
`make faults` runs it alone. docs/RELIABILITY.md lists each case and its outcome."""
