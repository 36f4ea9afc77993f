package pebblepeer

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
)

// Roots returns the PEM of the root Pebble issues under, from its management API, for
// `curl --cacert` and x509 pools. Pebble makes a new root each time it starts.
func (p *Peer) Roots(t testing.TB) []byte {
	t.Helper()
	url := "https://" + p.management + "/roots/0"
	resp, err := p.client.Get(url)
	if err != nil {
		t.Fatalf("pebble roots: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v: %s", url, resp.Status, err, body)
	}
	return body
}

// ordersLine is what Pebble logs, with its store's count, after storing each new order and
// before answering the newOrder request.
var ordersLine = regexp.MustCompile(`There are now (\d+) orders in the db`)

// Orders returns how many newOrder requests Pebble accepted since it started. Pebble's
// management API has no such count, so it is the count from the last "There are now N orders in
// the db" line of Pebble's log: the size of its order store, which only newOrder adds to.
// Pebble writes that line to the log file before it answers the request, so once a client has
// its order back, Orders counts it.
func (p *Peer) Orders(t testing.TB) int {
	t.Helper()
	n, err := ordersIn(p.Output())
	if err != nil {
		t.Fatalf("pebble log: %v", err)
	}
	return n
}

func ordersIn(log string) (int, error) {
	all := ordersLine.FindAllStringSubmatch(log, -1)
	if len(all) == 0 {
		return 0, nil
	}
	return strconv.Atoi(all[len(all)-1][1])
}

// AddA makes the DNS answer A queries for host with ips instead of the default address, for
// tests that send a name's validation elsewhere.
func (p *Peer) AddA(t testing.TB, host string, ips ...string) {
	t.Helper()
	p.dnsManage(t, "/add-a", map[string]any{"host": host, "addresses": ips})
}

// ClearA undoes AddA for host: it gets the default address again.
func (p *Peer) ClearA(t testing.TB, host string) {
	t.Helper()
	p.dnsManage(t, "/clear-a", map[string]any{"host": host})
}

// dnsManage posts a JSON request to challtestsrv's management API (plain HTTP).
func (p *Peer) dnsManage(t testing.TB, path string, body any) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.client.Post("http://"+p.dnsManagement+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("pebble-challtestsrv %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("pebble-challtestsrv %s %s: %s: %s", path, raw, resp.Status, msg)
	}
}
