// nodeserver serves the part of the kubelet's HTTPS API that the control plane calls on the e2e
// cluster's node: container logs and exec (Argo stops and terminates workflows through exec).
//
// The Python node agent (e2e/cluster/node) runs the containers; for each one it keeps a folder
// <state>/pods/<pod uid>/containers/<name>/ holding `log` (the container's output), `pid` (host
// PID of the container's first process, present while it runs) and a status file (written once it
// has stopped: `status`). <state>/pods/<pod uid>/pod.json names the pod ({"namespace", "name", "uid"}).
// This server only reads those files; exec enters the container's namespaces with nsenter.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

func main() {
	state := flag.String("state", "", "cluster state folder (holds pki/ and pods/)")
	addr := flag.String("listen", "127.0.0.1:10250", "address to serve HTTPS on")
	parent := flag.Int("parent", 0, "exit when this process (the node agent) is gone")
	flag.Parse()
	if *state == "" {
		fmt.Fprintln(os.Stderr, "nodeserver: --state is required")
		os.Exit(2)
	}
	server, err := newServer(*state, *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodeserver:", err)
		os.Exit(2)
	}
	if *parent > 0 {
		go exitWithParent(*parent)
	}
	log.Printf("nodeserver: serving the kubelet API on https://%s", *addr)
	if err := server.ListenAndServeTLS("", ""); err != nil {
		log.Fatalf("nodeserver: %v", err)
	}
}

// newServer builds the HTTPS server: the kubelet's serving certificate, and client certificates
// required and verified against the cluster CA (the apiserver's kubelet client cert is signed by it).
func newServer(state, addr string) (*http.Server, error) {
	pki := filepath.Join(state, "pki")
	cert, err := tls.LoadX509KeyPair(filepath.Join(pki, "kubelet.crt"), filepath.Join(pki, "kubelet.key"))
	if err != nil {
		return nil, fmt.Errorf("loading the serving certificate: %w", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(pki, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("reading the CA: %w", err)
	}
	clients := x509.NewCertPool()
	if !clients.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s holds no certificate", filepath.Join(pki, "ca.crt"))
	}
	pods := &podStore{root: filepath.Join(state, "pods")}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("/containerLogs/", func(w http.ResponseWriter, r *http.Request) { serveLogs(pods, w, r) })
	mux.HandleFunc("/exec/", func(w http.ResponseWriter, r *http.Request) { serveExec(pods, w, r) })
	return &http.Server{
		Addr:    addr,
		Handler: mux,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    clients,
			MinVersion:   tls.VersionTLS12,
		},
		ReadHeaderTimeout: 30 * time.Second,
	}, nil
}

// exitWithParent ends the server once the agent that started it is gone (even if it was killed).
func exitWithParent(parent int) {
	for range time.Tick(time.Second) {
		if os.Getppid() != parent {
			log.Printf("nodeserver: the node agent (pid %d) is gone; exiting", parent)
			os.Exit(0)
		}
	}
}
