package main

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// serveLogs answers GET /containerLogs/{ns}/{pod}/{container}?follow=&tailLines=&limitBytes=.
// The log file holds the container's raw output (stdout and stderr interleaved); `timestamps`
// is not supported (the agent does not record a time per line).
func serveLogs(pods *podStore, w http.ResponseWriter, r *http.Request) {
	ns, pod, uid, name, err := splitPath(r.URL.Path, "/containerLogs/")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c, err := pods.find(ns, pod, uid, name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	f, err := os.Open(c.logPath())
	if err != nil {
		http.Error(w, "container has not started: "+err.Error(), http.StatusBadRequest)
		return
	}
	defer f.Close()
	if n, err := strconv.Atoi(q.Get("tailLines")); err == nil && n >= 0 {
		if _, err := f.Seek(tailOffset(f, n), io.SeekStart); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	var out io.Writer = w
	if n, err := strconv.ParseInt(q.Get("limitBytes"), 10, 64); err == nil && n > 0 {
		out = &limitWriter{w: w, left: n}
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	follow := q.Get("follow") == "true" || q.Get("follow") == "1"
	copyLog(r, f, out, w, c, follow)
}

// copyLog copies the file, then (with follow) keeps copying what the container writes until it
// has stopped and everything is sent, or the client goes away.
func copyLog(r *http.Request, f *os.File, out io.Writer, w http.ResponseWriter, c *container, follow bool) {
	flusher, _ := w.(http.Flusher)
	for {
		stopped := c.exited() // checked before reading, so no output written before the stop is lost
		if _, err := io.Copy(out, f); err != nil {
			return // the client is gone, or limitBytes is reached
		}
		if flusher != nil {
			flusher.Flush()
		}
		if !follow || stopped {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tailOffset returns where the last n lines of f start.
func tailOffset(f *os.File, n int) int64 {
	info, err := f.Stat()
	if err != nil {
		return 0
	}
	end := info.Size()
	if n == 0 {
		return end
	}
	const block = 64 * 1024
	pos := end
	newlines := 0
	buf := make([]byte, block)
	// A final newline ends the last line; it does not start another one.
	if end > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, end-1); err == nil && last[0] == '\n' {
			newlines = -1
		}
	}
	for pos > 0 {
		size := int64(block)
		if pos < size {
			size = pos
		}
		pos -= size
		chunk := buf[:size]
		if _, err := f.ReadAt(chunk, pos); err != nil {
			return 0
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] == '\n' {
				newlines++
				if newlines == n {
					return pos + int64(i) + 1
				}
			}
		}
	}
	return 0
}

// limitWriter stops the copy once limitBytes bytes are written.
type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, io.ErrShortWrite
	}
	chunk := p
	if int64(len(chunk)) > l.left {
		chunk = chunk[:l.left]
	}
	n, err := l.w.Write(chunk)
	l.left -= int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return n, err
}
