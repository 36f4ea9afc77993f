package oidcpeer

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// NewBrowser returns an HTTP client as a browser behaves for these tests: it keeps cookies,
// uses transport (nil: http.DefaultTransport), and does not follow redirects, so each hop can
// be checked.
func NewBrowser(t testing.TB, transport http.RoundTripper) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar: jar, Transport: transport, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Browser is NewBrowser trusting the provider's certificate.
func (p *Peer) Browser(t testing.TB) *http.Client {
	t.Helper()
	return NewBrowser(t, p.Client.Transport)
}

// interactionForm matches the action of the devInteractions login and consent forms.
var interactionForm = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)

// SignIn drives the provider's devInteractions pages from authorizeURL (the provider's
// authorization endpoint with the relying party's parameters) as user login: sign-in form, then
// the consent form when the provider asks for it. It returns the first redirect that leaves the
// provider, normally the relying party's redirect URI with code and state. See provider.mjs for
// the HTTP steps.
func (p *Peer) SignIn(t testing.TB, browser *http.Client, authorizeURL, login string) *url.URL {
	t.Helper()
	issuer, err := url.Parse(p.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	next, err := url.Parse(authorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if next.Host != issuer.Host {
			return next
		}
		resp, err := browser.Get(next.String())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("sign-in: GET %s: %d %s", next, resp.StatusCode, resp.Header.Get("Location"))
		switch {
		case resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusFound:
			next, err = resp.Request.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			continue
		case resp.StatusCode != http.StatusOK:
			t.Fatalf("GET %s: %d: %s", next, resp.StatusCode, body)
		}
		// An interaction page: post its form, as a user clicking the button.
		m := interactionForm.FindSubmatch(body)
		if m == nil {
			t.Fatalf("GET %s: no interaction form in:\n%s", next, body)
		}
		action, err := next.Parse(string(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"prompt": {"consent"}}
		if strings.Contains(string(body), `name="login"`) {
			form = url.Values{"prompt": {"login"}, "login": {login}, "password": {"any"}}
		}
		resp, err = browser.PostForm(action.String(), form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("sign-in: POST %s %v: %d %s", action, form, resp.StatusCode, resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
			t.Fatalf("POST %s %v: %d: %s", action, form, resp.StatusCode, body)
		}
		if next, err = action.Parse(resp.Header.Get("Location")); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("signing in from %s did not leave the provider within 10 steps", authorizeURL)
	return nil
}

// xsrfField matches the hidden field of oidc-provider's logout confirmation form.
var xsrfField = regexp.MustCompile(`name="xsrf" value="([^"]+)"`)

// ConfirmLogout completes RP-initiated logout in browser from endSessionURL (the provider's
// end_session_endpoint with its parameters, as a relying party redirects to it) and returns
// where the provider sent the browser.
func (p *Peer) ConfirmLogout(t testing.TB, browser *http.Client, endSessionURL string) string {
	t.Helper()
	resp, err := browser.Get(endSessionURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := xsrfField.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("end_session: %d, no xsrf field in:\n%s", resp.StatusCode, body)
	}
	resp, err = browser.PostForm(p.Discovery.EndSessionEndpoint+"/confirm", url.Values{"xsrf": {string(m[1])}, "logout": {"yes"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Fatalf("end_session confirm: %d, want a redirect", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// Logout performs RP-initiated logout in browser with an id token hint and returns where the
// provider sent it.
func (p *Peer) Logout(t testing.TB, browser *http.Client, idToken, postLogout string) string {
	t.Helper()
	return p.ConfirmLogout(t, browser, p.Discovery.EndSessionEndpoint+"?"+url.Values{
		"id_token_hint": {idToken}, "post_logout_redirect_uri": {postLogout}}.Encode())
}
