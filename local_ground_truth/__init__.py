"""Local stand-ins for Ground Truth's server side: rendering worker templates (``liquid``)."""
