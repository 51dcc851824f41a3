"""Services: one package per AWS service, one plain function per operation."""
