package helmpeer

// Version is the Helm release (helm.sh/helm/v3, the latest v3 the Go module proxy served when it
// was pinned) whose cmd/helm the chart tests run. It is the one pin: test/peers/helm/build.sh reads
// it from this line to build that release, and Installed looks for the same release, so keep it a
// plain `const Version = "vX.Y.Z"` line.
const Version = "v3.22.0"
