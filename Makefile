# Shortcuts; the scripts work without make too.
.PHONY: run test test-quick bench
run:
	bash scripts/run.sh
test:
	bash scripts/test.sh
test-quick:
	bash scripts/test.sh --quick
bench:
	bash scripts/bench.sh
