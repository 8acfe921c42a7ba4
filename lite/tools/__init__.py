"""Floor 6, tools over the models: evaluation (`eval`, `mot`), benchmarks (`bench`), the one comparator
(`parity`) and Ray (`distributed`). They import the floors below; only `lite.cli` imports them."""
