package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// serveExec answers /exec/{ns}/{pod}/{container}?command=...&input=&output=&error=&tty= with the
// kubelet's streaming protocols (SPDY and WebSocket), through k8s.io/cri-streaming.
func serveExec(pods *podStore, w http.ResponseWriter, r *http.Request) {
	ns, pod, uid, name, err := splitPath(r.URL.Path, "/exec/")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c, err := pods.find(ns, pod, uid, name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "no command given", http.StatusBadRequest)
		return
	}
	remotecommand.ServeExec(w, r, &nsExecutor{c: c}, pod, uid, name, cmd, opts,
		4*time.Hour, remotecommand.DefaultStreamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

// nsExecutor runs a command inside a running container: its mount, UTS, IPC and PID namespaces,
// its root and working directory, its user and its environment.
type nsExecutor struct {
	c *container
}

func (e *nsExecutor) ExecInContainer(ctx context.Context, _, _, _ string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, _ <-chan remotecommand.TerminalSize, _ time.Duration) error {
	if tty {
		return fmt.Errorf("this node does not support a TTY for exec")
	}
	pid, err := e.c.pid()
	if err != nil {
		return err
	}
	args := []string{"--target", strconv.Itoa(pid), "--mount", "--uts", "--ipc", "--pid", "--root", "--wd"}
	if uid, gid, ok := processUser(pid); ok && uid != "0" {
		args = append(args, "--setuid", uid, "--setgid", gid)
	}
	args = append(args, "--")
	args = append(args, cmd...)
	run := exec.CommandContext(ctx, "/usr/bin/nsenter", args...)
	run.Env = processEnv(pid)
	if in != nil {
		run.Stdin = in
	}
	if out != nil {
		run.Stdout = out
	}
	if errOut != nil {
		run.Stderr = errOut
	}
	err = run.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return utilexec.ExitErrorWrapper{ExitError: exitErr}
	}
	return err
}

// processEnv is the environment of the container's first process, as the runtime gives exec.
func processEnv(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil
	}
	var env []string
	for _, kv := range strings.Split(string(data), "\x00") {
		if kv != "" {
			env = append(env, kv)
		}
	}
	return env
}

// processUser returns the real uid and gid of the container's first process.
func processUser(pid int) (uid, gid string, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", "", false
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "Uid:" {
			uid = fields[1]
		}
		if len(fields) >= 2 && fields[0] == "Gid:" {
			gid = fields[1]
		}
	}
	return uid, gid, uid != "" && gid != ""
}
