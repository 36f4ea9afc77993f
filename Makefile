# The two set-up commands for a fresh machine are `make run` and `make test` (see README.md).
GO      ?= go
BIN     := bin/gatehouse
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build run test unit e2e peers bench fuzz vet

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/gatehouse

# Builds and starts the quickstart: demo backends and `gatehouse run --config deploy/quickstart`.
run: build
	bash deploy/quickstart/run.sh $(BIN)

# Installs what the tests need (test/peers), then runs every test with -race.
test: peers vet build
	$(GO) test -race -count=1 ./...

peers:
	bash test/peers/install.sh

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# gofmt, go vet, staticcheck, and go.mod tidy: the style bar every change meets.
vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) mod tidy -diff

# Benchmarks against peers on this machine; installs its own peers (never needed by `make test`).
bench: build
	bash test/bench/run.sh $(BIN)

# A short fuzzing pass over every untrusted-input parser.
fuzz:
	$(GO) test ./policy -run '^$$' -fuzz FuzzParse -fuzztime 60s
	$(GO) test ./gateway/clienthello -run '^$$' -fuzz FuzzPeek -fuzztime 60s
