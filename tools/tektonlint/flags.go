package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/tektoncd/pipeline/pkg/apis/config"
	"knative.dev/pkg/apis"
)

// featureFlagsAnnotation names the feature flags an object needs beyond a
// stock install, as "flag=value" pairs separated by commas (the keys of the
// feature-flags ConfigMap). kfp-translate writes it only when the user opts
// in to an alpha feature; without it the stock defaults apply.
const featureFlagsAnnotation = "kfp-translate.io/tekton-feature-flags"

// contextFor returns a context carrying the defaults and feature flags of a
// stock install, changed only by the object's feature-flags annotation, set
// up as the admission webhook sees a create request.
func contextFor(annotations map[string]string) (context.Context, error) {
	cfg := config.FromContextOrDefaults(context.Background())
	if spec, ok := annotations[featureFlagsAnnotation]; ok {
		flags, err := parseFlags(spec)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %w", featureFlagsAnnotation, err)
		}
		ff, err := config.NewFeatureFlagsFromMap(flags)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %w", featureFlagsAnnotation, err)
		}
		cfg.FeatureFlags = ff
	}
	ctx := config.ToContext(context.Background(), cfg)
	return apis.WithinCreate(ctx), nil
}

func parseFlags(spec string) (map[string]string, error) {
	flags := map[string]string{}
	for _, pair := range strings.Split(spec, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		key, value, ok := strings.Cut(pair, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("%q is not flag=value", pair)
		}
		flags[key] = value
	}
	return flags, nil
}

