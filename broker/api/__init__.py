"""HTTP handlers, one module per resource group; thin: parse → call → render."""
