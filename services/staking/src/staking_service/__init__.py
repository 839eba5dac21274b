"""IPheron staking service: stakes on IP assets, exact reward accrual, claims and unstaking."""
