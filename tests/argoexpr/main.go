// Command argoexpr substitutes Argo's template tags in text with Argo's own code
// (util/template.Replace, the function the controller applies to a template), so
// tests can check that `translate run`'s evaluation of our `{{=...}}` expressions
// gives the same text. Test-only: it is not shipped with the package.
//
// Input (stdin): a JSON list of {"text": "...", "params": {"inputs.parameters.x": "..."}}.
// Output (stdout): a JSON list of {"value": "..."} or {"error": "..."}, in input order.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/argoproj/argo-workflows/v4/util/logging"
	"github.com/argoproj/argo-workflows/v4/util/template"
)

type request struct {
	Text   string            `json:"text"`
	Params map[string]string `json:"params"`
}

func main() {
	var requests []request
	if err := json.NewDecoder(os.Stdin).Decode(&requests); err != nil {
		os.Stderr.WriteString("argoexpr: " + err.Error() + "\n")
		os.Exit(2)
	}
	ctx := logging.WithLogger(context.Background(), logging.NewSlogLoggerCustom(logging.Error, logging.Text, os.Stderr))
	results := make([]map[string]string, 0, len(requests))
	for _, r := range requests {
		results = append(results, replace(ctx, r))
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		os.Exit(2)
	}
}

// replace substitutes as the controller does: the template is JSON text, tags are
// replaced inside it, and the result must still be JSON.
func replace(ctx context.Context, r request) map[string]string {
	doc, _ := json.Marshal(r.Text)
	env := make(map[string]any, len(r.Params))
	for k, v := range r.Params {
		env[k] = v
	}
	out, err := template.Replace(ctx, string(doc), env, false)
	if err != nil {
		return map[string]string{"error": err.Error()}
	}
	var text string
	if err := json.Unmarshal([]byte(out), &text); err != nil {
		return map[string]string{"error": err.Error()}
	}
	return map[string]string{"value": text}
}
