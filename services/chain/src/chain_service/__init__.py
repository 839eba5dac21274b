"""IPheron chain service: the only component that talks to the blockchain."""
