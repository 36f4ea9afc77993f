package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// nginxLB starts a real nginx as the load balancer in front of gateway replicas on loopback: it
// terminates TLS for the users' host with front, and proxies to every replica over HTTPS, checking
// their certificates against upstreamCA for serverName and keeping the client's Host, so a replica
// builds the same redirect URIs as behind a cloud load balancer. Debian's nginx-light has no
// stream module, so this is an HTTP proxy, not a TLS passthrough. It returns nginx's port.
//
// proxy_next_upstream "error timeout" is nginx's default, spelled out because the failover tests
// rely on it: a request a replica refused or dropped before answering goes to the next replica
// (GET is idempotent, so even one already sent is retried). fail_timeout=1s brings a restarted
// replica back into rotation soon; open-source nginx has no active health checks, so it never
// reads /healthz/ready and only learns of a stopped replica from a failed connection.
func nginxLB(t *testing.T, front pair, serverName string, upstreamCA string, replicas ...int) int {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	var servers strings.Builder
	for _, r := range replicas {
		fmt.Fprintf(&servers, "    server 127.0.0.1:%d max_fails=1 fail_timeout=1s;\n", r)
	}
	conf := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  upstream gatehouse {
%[2]s    keepalive 16;
  }
  server {
    listen 127.0.0.1:%[3]d ssl;
    ssl_certificate %[4]s;
    ssl_certificate_key %[5]s;
    location / {
      proxy_pass https://gatehouse;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_ssl_server_name on;
      proxy_ssl_name %[6]s;
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate %[7]s;
      proxy_connect_timeout 2s;
      proxy_next_upstream error timeout;
    }
  }
}
`, dir, servers.String(), port, front.certFile, front.keyFile, serverName, upstreamCA)
	startNginx(t, "nginx (load balancer)", dir, conf, port, serverName)
	return port
}
