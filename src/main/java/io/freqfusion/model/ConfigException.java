package io.freqfusion.model;

/** A model configuration (or weight set) that FreqFusion does not accept; the message names the option and the rule. */
public class ConfigException extends IllegalArgumentException {
    public ConfigException(String message) { super(message); }
}
