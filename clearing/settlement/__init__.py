"""Settlement files to the partner bank: pain.001, the 批量代付 payout file, per-beneficiary
detail CSVs, their names, and the checksums and signatures that go with them."""
