"""The HTTP backend: `create_app(ApiConfig)` and the routes it serves (see `faregate.api.app`)."""
