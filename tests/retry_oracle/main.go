// retry_oracle: Argo's own FormulateRetryWorkflow (argo-workflows v4.0.7, workflow/util) on a
// Workflow read from stdin; prints {"workflow": <the retried Workflow>, "pods": [<pods to
// delete>]} as JSON. tests/test_client_retry.py compares translator.client.retry with it.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/util/logging"
	"github.com/argoproj/argo-workflows/v4/workflow/util"
)

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var wf wfv1.Workflow
	if err := json.Unmarshal(raw, &wf); err != nil {
		fail(err)
	}
	ctx := logging.WithLogger(context.Background(), logging.NewSlogLoggerCustom(logging.Error, logging.Text, os.Stderr))
	retried, pods, err := util.FormulateRetryWorkflow(ctx, &wf, false, "", nil)
	if err != nil {
		fail(err)
	}
	sort.Strings(pods)
	out, err := json.Marshal(map[string]any{"workflow": retried, "pods": pods})
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "retry_oracle:", err)
	os.Exit(2)
}
