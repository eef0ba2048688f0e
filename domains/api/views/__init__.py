"""API views: validate the input, call a service or selector, render the output."""
