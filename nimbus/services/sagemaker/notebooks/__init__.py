"""Notebook instances: their rows, their sandboxed Jupyter servers and the tokens that open them."""
