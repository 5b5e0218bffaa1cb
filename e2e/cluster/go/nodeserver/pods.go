package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// podStore finds containers in the folders the node agent keeps (see main.go).
type podStore struct {
	root string
}

// container is one container's folder as the agent left it.
type container struct {
	dir string
}

type podFile struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
}

// find returns the container of namespace/pod (and pod uid when given) named name.
func (s *podStore) find(namespace, pod, uid, name string) (*container, error) {
	entries, err := os.ReadDir(s.root)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	for _, e := range entries {
		if uid != "" && e.Name() != uid {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.root, e.Name(), "pod.json"))
		if err != nil {
			continue // a pod folder being created or removed
		}
		var p podFile
		if json.Unmarshal(data, &p) != nil || p.Namespace != namespace || p.Name != pod {
			continue
		}
		dir := filepath.Join(s.root, e.Name(), "containers", name)
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("container %q not found in pod %s/%s", name, namespace, pod)
		}
		return &container{dir: dir}, nil
	}
	return nil, fmt.Errorf("pod %s/%s not found on this node", namespace, pod)
}

func (c *container) logPath() string { return filepath.Join(c.dir, "log") }

// exited reports whether the container has stopped (its runner writes `status` then).
func (c *container) exited() bool {
	_, err := os.Stat(filepath.Join(c.dir, "status"))
	return err == nil || os.IsNotExist(statErr(c.dir))
}

func statErr(path string) error {
	_, err := os.Stat(path)
	return err
}

// pid returns the host PID of the container's first process, or an error if it does not run.
func (c *container) pid() (int, error) {
	if c.exited() {
		return 0, fmt.Errorf("container is not running")
	}
	data, err := os.ReadFile(filepath.Join(c.dir, "pid"))
	if err != nil {
		return 0, fmt.Errorf("container is not running")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("container has a bad pid file")
	}
	return pid, nil
}

// splitPath splits /prefix/{ns}/{pod}/{container} or /prefix/{ns}/{pod}/{uid}/{container}.
func splitPath(path, prefix string) (namespace, pod, uid, name string, err error) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(path, prefix), "/"), "/")
	switch len(parts) {
	case 3:
		return parts[0], parts[1], "", parts[2], nil
	case 4:
		return parts[0], parts[1], parts[2], parts[3], nil
	}
	return "", "", "", "", fmt.Errorf("expected %s{namespace}/{pod}/{container}", prefix)
}
