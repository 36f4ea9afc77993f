package kubepeer

// Version is the Kubernetes release (k8s.io/kubernetes) whose kube-apiserver and kubectl the tests
// run. It is the one pin: test/peers/kube/build.sh reads it from this line to build that release,
// and Installed looks for the same release, so keep it a plain `const Version = "vX.Y.Z"` line.
// The staging modules (k8s.io/api, k8s.io/client-go, ...) are pinned to the matching v0.Y.Z.
const Version = "v1.36.3"
