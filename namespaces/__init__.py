"""Built-in namespace plugins: one ``socketio.AsyncNamespace`` subclass per module."""
