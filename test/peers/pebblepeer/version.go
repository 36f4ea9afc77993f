package pebblepeer

// Version is the Pebble release (github.com/letsencrypt/pebble/v2) the tests run, both
// cmd/pebble and cmd/pebble-challtestsrv. It is the one pin: test/peers/install.sh reads it from
// this line to install that release, and Installed looks for the same release, so keep it a plain
// `const Version = "vX.Y.Z"` line.
const Version = "v2.10.1"
