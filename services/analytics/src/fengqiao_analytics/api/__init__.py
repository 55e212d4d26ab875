"""HTTP routers of analytics (thin: parse, authorize, call a use case, shape the response)."""
