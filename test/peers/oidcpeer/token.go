package oidcpeer

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Tokens is a token endpoint response.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
}

// Token posts form to the token endpoint with the client's secret (client_secret_basic) and
// returns the status and the decoded answer.
func (p *Peer) Token(t testing.TB, c Client, form url.Values) (int, Tokens) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.Discovery.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	resp, err := p.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok Tokens
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		t.Fatalf("token endpoint: %d: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, tok
}
