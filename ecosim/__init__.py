"""ecosim: agent-based simulation of the economics of business ecosystems."""

__version__ = "0.1.0"
