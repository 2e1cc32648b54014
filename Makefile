# MailAgent build, test and run entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
DOTNET ?= dotnet
CONFIG ?= Release
DEBS := postfix opendkim opendkim-tools prometheus pflogsumm prometheus-postfix-exporter \
        dnsmasq-base postgresql sqlite3 clang zlib1g-dev lintian python3 procps iproute2 util-linux \
        hyperfine time dpkg-dev logrotate chromium dovecot-core fail2ban nftables valgrind
AGENT := agent/src/MailAgent/bin/$(CONFIG)/net10.0/mailagent

.PHONY: help deps build docs test test-unit run publish deb bench bench-micro bench-control-plane clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## install the Debian packages the tests and benchmarks use (needs root)
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "all Debian packages present"; fi
	@# postlogd (maillog_file) reads one unix datagram socket. With the kernel's queue of 10 a private Postfix can wedge:
	@# postlogd blocks logging to its own full socket, then every daemon and 'postfix stop' wait to log (seen in CI).
	@# systemd's sysctl defaults (50-default.conf) give a stock Debian host 512; a machine without systemd keeps 10.
	@q=$$(sysctl -n net.unix.max_dgram_qlen 2>/dev/null || echo 512); if [ "$$q" -lt 512 ]; then \
	  sysctl -q -w net.unix.max_dgram_qlen=512 && echo "net.unix.max_dgram_qlen $$q -> 512, as systemd sets it on Debian" \
	  || echo "warning: net.unix.max_dgram_qlen is $$q (set it to 512 as root, or a test's Postfix may wedge)"; fi

build: ## build every project
	$(DOTNET) build MailAgent.sln -c $(CONFIG) -nologo -clp:NoSummary

docs: build ## regenerate docs/configuration.md's key tables from the code (Cli/ConfigurationKeys.cs of both daemons)
	bash scripts/generate-docs.sh $(CONFIG)

test: deps build ## install what the tests need, build, run every test
	bash tests/run-tests.sh $(CONFIG)

test-unit: build ## the unit tests only (no servers, no root, seconds); prints 'N passed, N failed'
	bash tests/run-tests.sh $(CONFIG) unit

run: build ## two agents and the control plane with a SQLite routing table, on the bundled corpus (Ctrl-C stops all)
	bash scripts/run-local.sh $(CONFIG)

publish: ## the agent as a Native AOT binary in artifacts/aot/ (needs clang and zlib1g-dev: make deps)
	$(DOTNET) publish agent/src/MailAgent -c Release -r linux-x64 -p:PublishAot=true -o artifacts/aot -nologo

deb: ## mailagent and mailagent-control-plane .deb packages in artifacts/deb/ (packaging/deb/build.sh)
	bash packaging/deb/build.sh

bench: build publish ## end-to-end benchmarks against peers on a 2-million-line log (bench/README.md)
	MAILAGENT=artifacts/aot/mailagent bash bench/e2e/run.sh $(CONFIG)

bench-control-plane: build ## the packaged (Native AOT) control plane against 1,000 and 5,000 simulated agents (bench/control-plane/README.md)
	$(DOTNET) publish control-plane/src/MailControlPlane -c Release -r linux-x64 -p:PublishAot=true -o artifacts/aot-control-plane -nologo -clp:NoSummary
	$(DOTNET) bench/control-plane/ControlPlaneBench/bin/$(CONFIG)/net10.0/ControlPlaneBench.dll --agents $${AGENTS:-1000,5000} \
	  --control-plane artifacts/aot-control-plane/mailagent-control-plane --label $${LABEL:-aot}

bench-micro: ## BenchmarkDotNet benchmarks, compared with bench/baselines/*.json (ratios only; never fails on a duration)
	$(DOTNET) run -c Release --project bench/MailAgent.Benchmarks -- --filter "$${FILTER:-*}" --exporters json --artifacts bench/work/bdn $(BDN_ARGS)
	python3 bench/MailAgent.Benchmarks/compare.py bench/work/bdn/results

clean: ## remove build output
	$(DOTNET) clean MailAgent.sln -nologo -v q; rm -rf bench/results
