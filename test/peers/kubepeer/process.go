package kubepeer

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// process is a peer process whose output goes to a log file, appended to, so that one file tells
// the story of all of a restarted server's runs.
type process struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited and its log is closed
}

func startProcess(name, bin, logFile string, args ...string) (*process, error) {
	out, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "=== %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), name)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	return p, nil
}

// stopGrace is how long stop lets a process shut down on SIGTERM before killing it. The API
// server drains requests in flight on SIGTERM; it needs seconds, not this long.
const stopGrace = 30 * time.Second

// stop asks the process to exit, kills it if it does not in time, and waits until it is gone, so
// that its port and data directory are free afterwards.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopGrace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func readLog(file string) string {
	raw, err := os.ReadFile(file)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(raw)
}

// tail is the last n lines of a log file: the API server logs too much to print all of it.
func tail(file string, n int) string {
	lines := strings.Split(strings.TrimRight(readLog(file), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
