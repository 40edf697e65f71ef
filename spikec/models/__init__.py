"""What a netlist is made of: neuron models (:mod:`~spikec.models.neurons`) and synapses
(:mod:`~spikec.models.synapses`)."""
