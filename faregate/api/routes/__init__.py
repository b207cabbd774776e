"""The API's routes, one module per audience; each exports a `RouteRegistry` named `routes`."""
