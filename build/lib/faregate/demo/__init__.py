"""The simulated city day behind `faregate demo`: each stage runs one part of the system."""
