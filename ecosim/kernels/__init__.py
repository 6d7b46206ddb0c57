"""Pure jitted functions on arrays: rng, distributions, awareness, lifecycle, choice, step."""
