"""The files ``relay new component`` writes, as ``string.Template`` text (``*.tmpl``)."""
