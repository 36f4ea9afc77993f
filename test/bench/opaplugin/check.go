package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
)

// readRequests reads a JSON array of CheckRequests in protojson, the file ghz sends from.
func readRequests(file string) ([]*authv3.CheckRequest, error) {
	bs, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(bs, &raw); err != nil {
		return nil, fmt.Errorf("%s: not a JSON array: %w", file, err)
	}
	out := make([]*authv3.CheckRequest, len(raw))
	for i, r := range raw {
		out[i] = &authv3.CheckRequest{}
		if err := protojson.Unmarshal(r, out[i]); err != nil {
			return nil, fmt.Errorf("%s: [%d]: %w", file, i, err)
		}
	}
	return out, nil
}

// check sends each request to the ext_authz server at addr and writes one line per answer,
// "allow" or "deny STATUS", so the bench can compare servers' decisions before it measures
// them (ghz sees only the RPC status, and a denial is an OK RPC).
func check(ctx context.Context, addr string, reqs []*authv3.CheckRequest, w io.Writer) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("%s: %w", addr, err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	for i, r := range reqs {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := client.Check(cctx, r)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: request [%d]: %w", addr, i, err)
		}
		fmt.Fprintln(w, verdict(resp))
	}
	return nil
}

func verdict(resp *authv3.CheckResponse) string {
	if resp.GetOkResponse() != nil || (resp.GetDeniedResponse() == nil && resp.GetStatus().GetCode() == 0) {
		return "allow"
	}
	st := int(resp.GetDeniedResponse().GetStatus().GetCode())
	if st == 0 {
		st = 403 // Envoy's default when a denial names no status
	}
	return fmt.Sprintf("deny %d", st)
}
