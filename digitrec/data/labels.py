"""Labels beyond the ten digits that training data may carry."""

#: a crop that is not one digit (two touching digits, a fragment of one): trained towards equal
#: probabilities for all classes, never counted in accuracy
NOT_ONE_DIGIT = -1
