"""Components shipped with relay. Each registers through the ``relay.components`` entry point."""
