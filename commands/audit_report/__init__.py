"""The audit report: gathered by projections.application.audit_report, rendered here."""
