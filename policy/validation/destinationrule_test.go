package validation

import (
	"testing"

	networking "istio.io/api/networking/v1alpha3"
)

// drPolicy is a DestinationRule for "reviews" with the given trafficPolicy JSON.
func drPolicy(tp string) *networking.DestinationRule {
	return destinationRuleJSON(`{"host":"reviews","trafficPolicy":` + tp + `}`)
}

func TestDestinationRule(t *testing.T) {
	t.Parallel()
	runCases(t, []validationCase{
		{name: "valid", spec: destinationRuleJSON(`{"host":"reviews.default.svc.cluster.local","subsets":[{"name":"v1","labels":{"version":"v1"}},{"name":"v2","labels":{"app.kubernetes.io/version":"v2"}}]}`)},
		{name: "valid wildcard host", spec: destinationRuleJSON(`{"host":"*.example.com"}`)},
		{name: "host required", spec: destinationRuleJSON(`{}`),
			want: []wantFinding{wantErr("spec.host", "empty domain name not allowed")}},
		{name: "bad host", spec: destinationRuleJSON(`{"host":"foo.*.com"}`),
			want: []wantFinding{wantErr("spec.host", `label "*" invalid`)}},
		{name: "host too long", spec: destinationRuleJSON(`{"host":"` + longDomain(256) + `"}`),
			want: []wantFinding{wantErr("spec.host", "too long (max 255)")}},
		{name: "duplicate subset names", spec: destinationRuleJSON(`{"host":"r","subsets":[{"name":"v1"},{"name":"v1"}]}`),
			want: []wantFinding{wantErr("spec.subsets[1].name", "duplicate subset names: v1")}},
		{name: "subset name empty", spec: destinationRuleJSON(`{"host":"r","subsets":[{"labels":{"a":"b"}}]}`),
			want: []wantFinding{wantErr("spec.subsets[0].name", "subset name cannot be empty")}},
		{name: "subset name not a DNS label", spec: destinationRuleJSON(`{"host":"r","subsets":[{"name":"v1.0"}]}`),
			want: []wantFinding{wantErr("spec.subsets[0].name", "subset name is invalid")}},
		{name: "subset bad label key", spec: destinationRuleJSON(`{"host":"r","subsets":[{"name":"v1","labels":{"-bad":"x"}}]}`),
			want: []wantFinding{wantErr("spec.subsets[0].labels[-bad]", "invalid label key")}},
		{name: "subset bad label value", spec: destinationRuleJSON(`{"host":"r","subsets":[{"name":"v1","labels":{"a":"b c"}}]}`),
			want: []wantFinding{wantErr("spec.subsets[0].labels[a]", "invalid label value")}},
		{name: "subset traffic policy checked", spec: destinationRuleJSON(`{"host":"r","subsets":[{"name":"v1","trafficPolicy":{}}]}`),
			want: []wantFinding{wantErr("spec.subsets[0].trafficPolicy", "at least one field")}},
		{name: "workloadSelector wildcard", spec: destinationRuleJSON(`{"host":"r","workloadSelector":{"matchLabels":{"app":"*"}}}`),
			want: []wantFinding{wantErr("spec.workloadSelector.matchLabels[app]", "wildcard is not supported")}},
		{name: "workloadSelector without labels", spec: destinationRuleJSON(`{"host":"r","workloadSelector":{}}`),
			want: []wantFinding{wantWarn("spec.workloadSelector.matchLabels", "without labels")}},
		{name: "workloadSelector exportTo beyond namespace", meta: Meta{Name: "dr", Namespace: "prod"}, spec: destinationRuleJSON(`{"host":"r","exportTo":["other"],"workloadSelector":{"matchLabels":{"app":"a"}}}`),
			want: []wantFinding{wantErr("spec.exportTo", "cannot have exportTo beyond current namespace")}},
		{name: "workloadSelector exportTo several", meta: Meta{Name: "dr", Namespace: "prod"}, spec: destinationRuleJSON(`{"host":"r","exportTo":[".","other"],"workloadSelector":{"matchLabels":{"app":"a"}}}`),
			want: []wantFinding{wantErr("spec.exportTo", "cannot have multiple entries in exportTo")}},
		{name: "workloadSelector exportTo own namespace", meta: Meta{Name: "dr", Namespace: "prod"}, spec: destinationRuleJSON(`{"host":"r","exportTo":["."],"workloadSelector":{"matchLabels":{"app":"a"}}}`)},
	})
}

func TestDestinationRuleTrafficPolicy(t *testing.T) {
	t.Parallel()
	tp := "spec.trafficPolicy"
	runCases(t, []validationCase{
		{name: "empty traffic policy", spec: drPolicy(`{}`),
			want: []wantFinding{wantErr(tp, "traffic policy must have at least one field")}},
		{name: "tunnel with proxyProtocol", spec: drPolicy(`{"tunnel":{"targetHost":"a.com","targetPort":443},"proxyProtocol":{}}`),
			want: []wantFinding{wantErr(tp, "tunnel and proxyProtocol must not be set together")}},
		{name: "tunnel protocol", spec: drPolicy(`{"tunnel":{"protocol":"GET","targetHost":"a.com","targetPort":443}}`),
			want: []wantFinding{wantErr(tp+".tunnel.protocol", `"CONNECT" or "POST"`)}},
		{name: "tunnel target", spec: drPolicy(`{"tunnel":{"targetHost":"a_b","targetPort":0}}`),
			want: []wantFinding{wantErr(tp+".tunnel.targetHost", "valid FQDN or IP"), wantErr(tp+".tunnel.targetPort", "1..65535")}},
		{name: "retry budget percent", spec: drPolicy(`{"retryBudget":{"percent":120}}`),
			want: []wantFinding{wantErr(tp+".retryBudget.percent", "0..100")}},
		{name: "port level needs port", spec: drPolicy(`{"portLevelSettings":[{"tls":{"mode":"SIMPLE"}}]}`),
			want: []wantFinding{wantErr(tp+".portLevelSettings[0].port", "must have valid port")}},
		{name: "port level port range", spec: drPolicy(`{"portLevelSettings":[{"port":{"number":0},"tls":{"mode":"SIMPLE"}}]}`),
			want: []wantFinding{wantErr(tp+".portLevelSettings[0].port.number", "1..65535")}},
		{name: "port level empty", spec: drPolicy(`{"portLevelSettings":[{"port":{"number":80}}]}`),
			want: []wantFinding{wantErr(tp+".portLevelSettings[0]", "port traffic policy must have at least one field")}},
		{name: "port level policy checked", spec: drPolicy(`{"portLevelSettings":[{"port":{"number":80},"connectionPool":{}}]}`),
			want: []wantFinding{wantErr(tp+".portLevelSettings[0].connectionPool", "connection pool must have at least one field")}},

		{name: "valid outlier detection", spec: drPolicy(`{"outlierDetection":{"consecutive5xxErrors":5,"interval":"10s","baseEjectionTime":"30s","maxEjectionPercent":50}}`)},
		{name: "outlier interval", spec: drPolicy(`{"outlierDetection":{"interval":"0s"}}`),
			want: []wantFinding{wantErr(tp+".outlierDetection.interval", "greater than 1ms")}},
		{name: "outlier base ejection time", spec: drPolicy(`{"outlierDetection":{"baseEjectionTime":"0.0000001s"}}`),
			want: []wantFinding{wantErr(tp+".outlierDetection.baseEjectionTime", "greater than 1ms")}},
		{name: "outlier max ejection percent", spec: drPolicy(`{"outlierDetection":{"maxEjectionPercent":101}}`),
			want: []wantFinding{wantErr(tp+".outlierDetection.maxEjectionPercent", "0..100")}},
		{name: "outlier min health percent", spec: drPolicy(`{"outlierDetection":{"minHealthPercent":-1}}`),
			want: []wantFinding{wantErr(tp+".outlierDetection.minHealthPercent", "0..100")}},
		{name: "outlier consecutive errors deprecated", spec: drPolicy(`{"outlierDetection":{"consecutiveErrors":5}}`),
			want: []wantFinding{wantWarn(tp+".outlierDetection.consecutiveErrors", "deprecated")}},
		{name: "outlier local origin without split", spec: drPolicy(`{"outlierDetection":{"consecutiveLocalOriginFailures":3}}`),
			want: []wantFinding{wantErr(tp+".outlierDetection.consecutiveLocalOriginFailures", "split external local origin errors is set to false")}},

		{name: "valid connection pool", spec: drPolicy(`{"connectionPool":{"tcp":{"maxConnections":100,"connectTimeout":"0.030s","idleTimeout":"0s"},"http":{"http2MaxRequests":1000,"idleTimeout":"60s"}}}`)},
		{name: "connection pool empty", spec: drPolicy(`{"connectionPool":{}}`),
			want: []wantFinding{wantErr(tp+".connectionPool", "at least one field")}},
		{name: "connection pool negatives", spec: drPolicy(`{"connectionPool":{"http":{"http1MaxPendingRequests":-1,"maxRetries":-1},"tcp":{"maxConnections":-1}}}`),
			want: []wantFinding{
				wantErr(tp+".connectionPool.http.http1MaxPendingRequests", "must be non-negative"),
				wantErr(tp+".connectionPool.http.maxRetries", "must be non-negative"),
				wantErr(tp+".connectionPool.tcp.maxConnections", "must be non-negative"),
			}},
		{name: "connection pool upgrade with client protocol", spec: drPolicy(`{"connectionPool":{"http":{"h2UpgradePolicy":"UPGRADE","useClientProtocol":true}}}`),
			want: []wantFinding{wantErr(tp+".connectionPool.http.useClientProtocol", "must not be true when h2UpgradePolicy is UPGRADE")}},
		{name: "connection pool durations", spec: drPolicy(`{"connectionPool":{"tcp":{"connectTimeout":"0s","tcpKeepalive":{"time":"0.0001s"}},"http":{"idleTimeout":"0s"}}}`),
			want: []wantFinding{
				wantErr(tp+".connectionPool.tcp.connectTimeout", "greater than 1ms"),
				wantErr(tp+".connectionPool.tcp.tcpKeepalive.time", "greater than 1ms"),
				wantErr(tp+".connectionPool.http.idleTimeout", "greater than 1ms"),
			}},

		{name: "valid consistent hash", spec: drPolicy(`{"loadBalancer":{"consistentHash":{"httpCookie":{"name":"s","ttl":"0s"},"maglev":{"tableSize":65537}}}}`)},
		{name: "cookie needs name", spec: drPolicy(`{"loadBalancer":{"consistentHash":{"httpCookie":{"ttl":"10s"}}}}`),
			want: []wantFinding{wantErr(tp+".loadBalancer.consistentHash.httpCookie.name", "name required")}},
		{name: "deprecated minimumRingSize", spec: drPolicy(`{"loadBalancer":{"consistentHash":{"useSourceIp":true,"minimumRingSize":1024}}}`),
			want: []wantFinding{wantWarn(tp+".loadBalancer.consistentHash.minimumRingSize", "deprecated")}},
		{name: "minimumRingSize with algorithm", spec: drPolicy(`{"loadBalancer":{"consistentHash":{"useSourceIp":true,"minimumRingSize":1024,"ringHash":{"minimumRingSize":1024}}}}`),
			want: []wantFinding{wantWarn(tp+".loadBalancer.consistentHash.minimumRingSize", "deprecated"), wantErr(tp+".loadBalancer.consistentHash", "only one of minimumRingSize")}},
		{name: "maglev table size unset", spec: drPolicy(`{"loadBalancer":{"consistentHash":{"maglev":{}}}}`),
			want: []wantFinding{wantErr(tp+".loadBalancer.consistentHash.maglev.tableSize", "must be set")}},
		{name: "maglev table size not prime", spec: drPolicy(`{"loadBalancer":{"consistentHash":{"maglev":{"tableSize":1000}}}}`),
			want: []wantFinding{wantErr(tp+".loadBalancer.consistentHash.maglev.tableSize", "prime")}},
		{name: "maglev table size too large", spec: drPolicy(`{"loadBalancer":{"consistentHash":{"maglev":{"tableSize":5000011}}}}`),
			want: []wantFinding{wantErr(tp+".loadBalancer.consistentHash.maglev.tableSize", "less than 5000011")}},
		{name: "warmup both forms", spec: drPolicy(`{"loadBalancer":{"simple":"ROUND_ROBIN","warmupDurationSecs":"10s","warmup":{"duration":"10s"}}}`),
			want: []wantFinding{wantErr(tp+".loadBalancer", "only one of warmupDurationSecs or warmup")}},
		{name: "warmup needs duration", spec: drPolicy(`{"loadBalancer":{"warmup":{"aggression":0.5,"minimumPercent":120}}}`),
			want: []wantFinding{
				wantErr(tp+".loadBalancer.warmup.duration", "duration is required"),
				wantErr(tp+".loadBalancer.warmup.minimumPercent", "between 0 and 100"),
				wantErr(tp+".loadBalancer.warmup.aggression", "greater than or equal to 1"),
			}},
		{name: "zone aware min cluster size", spec: drPolicy(`{"loadBalancer":{"zoneAwareLbSetting":{"minClusterSize":0}}}`),
			want: []wantFinding{wantErr(tp+".loadBalancer.zoneAwareLbSetting.minClusterSize", "at least 1")}},
		{name: "locality failover without outlier detection", spec: drPolicy(`{"loadBalancer":{"localityLbSetting":{"failover":[{"from":"us-east","to":"us-west"}]}}}`),
			want: []wantFinding{wantWarn(tp+".loadBalancer.localityLbSetting", "outlier detection policy must be provided")}},
		{name: "locality failover with outlier detection", spec: drPolicy(`{"outlierDetection":{"consecutive5xxErrors":1},"loadBalancer":{"localityLbSetting":{"failover":[{"from":"us-east","to":"us-west"}]}}}`)},
	})
}

func TestDestinationRuleClientTLS(t *testing.T) {
	t.Parallel()
	tls := "spec.trafficPolicy.tls"
	runCases(t, []validationCase{
		{name: "valid SIMPLE", spec: drPolicy(`{"tls":{"mode":"SIMPLE","sni":"a.com"}}`)},
		{name: "valid MUTUAL with credentialName", spec: drPolicy(`{"tls":{"mode":"MUTUAL","credentialName":"client"}}`)},
		{name: "valid ISTIO_MUTUAL", spec: drPolicy(`{"tls":{"mode":"ISTIO_MUTUAL"}}`)},
		{name: "MUTUAL needs client cert and key", spec: drPolicy(`{"tls":{"mode":"MUTUAL"}}`),
			want: []wantFinding{wantErr(tls+".clientCertificate", "client certificate required"), wantErr(tls+".privateKey", "private key required")}},
		{name: "credentialName with files", spec: drPolicy(`{"tls":{"mode":"SIMPLE","credentialName":"c","caCertificates":"/ca"}}`),
			want: []wantFinding{wantErr(tls+".credentialName", "if credentialName is set")}},
		{name: "insecureSkipVerify with CA on SIMPLE", spec: drPolicy(`{"tls":{"mode":"SIMPLE","insecureSkipVerify":true,"caCertificates":"/ca"}}`),
			want: []wantFinding{wantErr(tls+".insecureSkipVerify", "when insecureSkipVerify is set true")}},
		{name: "insecureSkipVerify with SAN on MUTUAL", spec: drPolicy(`{"tls":{"mode":"MUTUAL","insecureSkipVerify":true,"credentialName":"c","subjectAltNames":["a"]}}`),
			want: []wantFinding{wantErr(tls+".insecureSkipVerify", "when insecureSkipVerify is set true")}},
		{name: "configmap credential in other namespace", meta: Meta{Name: "dr", Namespace: "prod"}, spec: drPolicy(`{"tls":{"mode":"SIMPLE","credentialName":"configmap://other/ca"}}`),
			want: []wantFinding{wantErr(tls+".credentialName", `namespace must match the configuration namespace "prod"`)}},
		{name: "configmap credential in own namespace", meta: Meta{Name: "dr", Namespace: "prod"}, spec: drPolicy(`{"tls":{"mode":"SIMPLE","credentialName":"configmap://ca"}}`)},
	})
}
