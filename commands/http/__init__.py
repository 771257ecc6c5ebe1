"""The HTTP entry point: commands in, the auditor's trail and the published log out."""
