"""ecosim's Hydra launcher for Ray clusters (``hydra/launcher=ray_cluster``): ``ray_launcher``."""
